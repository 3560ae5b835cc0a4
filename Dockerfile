# GPU image: the API with its in-process worker on the Linux CUDA 12.8 libtorch.
# The CUDA libtorch packages come from nuget.org (this project's CI mirror does not serve them).
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
RUN dotnet publish src/Api/Easel.Api.csproj -c Release -p:TorchBackend=cuda -o /app

FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04
RUN apt-get update && apt-get install -y --no-install-recommends aspnetcore-runtime-10.0 ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app .
ENV Easel__DataDir=/data \
    Easel__Workers__Device=cuda \
    Easel__Workers__DType=float16 \
    ASPNETCORE_URLS=http://0.0.0.0:5080
VOLUME /data
EXPOSE 5080
ENTRYPOINT ["dotnet", "Easel.Api.dll"]
