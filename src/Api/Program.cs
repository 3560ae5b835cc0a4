using Easel.Api.Extensions;
using Easel.Core;
using Easel.Workers.Hosting;

return await StartupRefusal.RunAsync(async () =>
{
    var builder = WebApplication.CreateBuilder(MigrateCommand.HostArguments(args));
    builder.AddEaselApi();

    var app = builder.Build();
    // `dotnet Easel.Api.dll migrate`: apply the migrations (and Hangfire's schema on PostgreSQL), then exit.
    if (MigrateCommand.IsRequested(args))
        return await MigrateCommand.RunAsync(app.Services);

    StartupRefusal.ValidateOptions(app.Services);
    // Before any hosted service starts, so that the in-process Hangfire server never sees an old schema.
    await app.Services.MigrateEaselDatabaseAsync();

    app.UseEaselApi();
    app.MapEaselApi();

    await app.RunAsync();
    return 0;
});
