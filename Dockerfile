# One image, two entry points, on the Linux CUDA 12.8 libtorch:
#   the API (default):   docker run easel                       → dotnet Easel.Api.dll --urls http://0.0.0.0:5080
#   a worker process:    docker run --entrypoint dotnet easel Easel.Workers.dll --urls http://0.0.0.0:9091
#   the migrations:      docker run easel migrate               → applies EF + Hangfire schemas, exits
# The CUDA libtorch packages (they bundle the CUDA runtime, cuBLAS and cuDNN) come from nuget.org, which this
# project's CI mirror does not serve; the NVIDIA driver comes from the host through the NVIDIA container toolkit.

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
# Restore first, from the project files only, so that the large libtorch restore is cached across source edits.
COPY global.json Directory.Build.props Directory.Build.targets Directory.Packages.props ./
COPY build/ build/
COPY src/Inference/Easel.Inference.csproj src/Inference/
COPY src/Core/Easel.Core.csproj src/Core/
COPY src/Workers/Easel.Workers.csproj src/Workers/
COPY src/Api/Easel.Api.csproj src/Api/
RUN dotnet restore src/Api/Easel.Api.csproj -p:TorchBackend=cuda
COPY src/ src/
COPY models/ models/
# The API's output holds both executables: Easel.Workers.dll comes with its runtimeconfig and deps files.
RUN dotnet publish src/Api/Easel.Api.csproj -c Release -p:TorchBackend=cuda --no-restore -o /app \
    && test -f /app/Easel.Workers.runtimeconfig.json

# Ubuntu 24.04: its libstdc++ has GLIBCXX_3.4.32, which libLibTorchSharp.so asks for.
FROM mcr.microsoft.com/dotnet/aspnet:10.0-noble AS runtime
WORKDIR /app
COPY --from=build /app .
RUN mkdir /data && chown "$APP_UID" /data
ENV Easel__DataDir=/data \
    Easel__Workers__Device=cuda \
    Easel__Workers__DType=float16 \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
VOLUME /data
EXPOSE 5080 9091
USER $APP_UID
# --urls on the command line: it wins over the "Urls" of appsettings.json (loopback for local runs).
ENTRYPOINT ["dotnet", "Easel.Api.dll"]
CMD ["--urls", "http://0.0.0.0:5080"]
