using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Easel.Core.Data.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class ModelCatalog : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "model",
                table: "jobs",
                type: "character varying(200)",
                maxLength: 200,
                nullable: true);

            // Jobs stored before the column: their model is the request's (it picks the queue a re-dispatch uses).
            migrationBuilder.Sql("UPDATE jobs SET model = request->>'model' WHERE model IS NULL;");

            migrationBuilder.CreateTable(
                name: "workers",
                columns: table => new
                {
                    id = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    role = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    device = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    queues = table.Column<string>(type: "character varying(4000)", maxLength: 4000, nullable: false),
                    started_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    heartbeat_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    stopped_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_workers", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "worker_models",
                columns: table => new
                {
                    worker_id = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    name = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    path = table.Column<string>(type: "character varying(2048)", maxLength: 2048, nullable: false),
                    family = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    format = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    inpainting = table.Column<bool>(type: "boolean", nullable: false),
                    sample_size = table.Column<int>(type: "integer", nullable: false),
                    vae_scale_factor = table.Column<int>(type: "integer", nullable: false),
                    default_width = table.Column<int>(type: "integer", nullable: false),
                    default_height = table.Column<int>(type: "integer", nullable: false),
                    default_steps = table.Column<int>(type: "integer", nullable: true),
                    default_guidance_scale = table.Column<double>(type: "double precision", nullable: true),
                    default_scheduler = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    is_default = table.Column<bool>(type: "boolean", nullable: false),
                    problem = table.Column<string>(type: "character varying(2000)", maxLength: 2000, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_worker_models", x => new { x.worker_id, x.name });
                    table.ForeignKey(
                        name: "fk_worker_models_workers_worker_id",
                        column: x => x.worker_id,
                        principalTable: "workers",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ix_workers_heartbeat_at",
                table: "workers",
                column: "heartbeat_at");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "worker_models");

            migrationBuilder.DropTable(
                name: "workers");

            migrationBuilder.DropColumn(
                name: "model",
                table: "jobs");
        }
    }
}
