using Easel.Api.Extensions;
using Easel.Core;

var builder = WebApplication.CreateBuilder(args);
builder.AddEaselApi();

var app = builder.Build();
// Before any hosted service starts, so that the in-process Hangfire server never sees an old schema.
await app.Services.MigrateEaselDatabaseAsync();

app.UseEaselApi();
app.MapEaselApi();

app.Run();
