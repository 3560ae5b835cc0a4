using Easel.Api.Extensions;
using Easel.Core;
using Easel.Workers.Hosting;

var builder = WebApplication.CreateBuilder(MigrateCommand.HostArguments(args));
builder.AddEaselApi();

var app = builder.Build();
// `dotnet Easel.Api.dll migrate`: apply the migrations (and Hangfire's schema on PostgreSQL), then exit.
if (MigrateCommand.IsRequested(args))
    return await MigrateCommand.RunAsync(app.Services);

// Before any hosted service starts, so that the in-process Hangfire server never sees an old schema.
await app.Services.MigrateEaselDatabaseAsync();

app.UseEaselApi();
app.MapEaselApi();

app.Run();
return 0;
