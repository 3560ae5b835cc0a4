using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Easel.Core.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class Artifacts : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<long>(
                name: "max_storage_bytes",
                table: "api_keys",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "artifacts",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "TEXT", nullable: false),
                    owner = table.Column<string>(type: "TEXT", maxLength: 128, nullable: true),
                    kind = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    name = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false),
                    format = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    base_model = table.Column<string>(type: "TEXT", maxLength: 200, nullable: true),
                    base_model_hash = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    blob_key = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    sha256 = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    byte_size = table.Column<long>(type: "INTEGER", nullable: false),
                    metadata = table.Column<string>(type: "TEXT", nullable: false),
                    job_id = table.Column<Guid>(type: "TEXT", nullable: true),
                    created_at = table.Column<long>(type: "INTEGER", nullable: false),
                    deleted_at = table.Column<long>(type: "INTEGER", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_artifacts", x => x.id);
                    table.ForeignKey(
                        name: "fk_artifacts_jobs_job_id",
                        column: x => x.job_id,
                        principalTable: "jobs",
                        principalColumn: "id",
                        onDelete: ReferentialAction.SetNull);
                });

            migrationBuilder.CreateIndex(
                name: "ix_artifacts_blob_key",
                table: "artifacts",
                column: "blob_key");

            migrationBuilder.CreateIndex(
                name: "ix_artifacts_job_id",
                table: "artifacts",
                column: "job_id");

            migrationBuilder.CreateIndex(
                name: "ix_artifacts_owner_created_at",
                table: "artifacts",
                columns: new[] { "owner", "created_at" });

            migrationBuilder.CreateIndex(
                name: "ix_artifacts_owner_name",
                table: "artifacts",
                columns: new[] { "owner", "name" },
                unique: true,
                filter: "deleted_at IS NULL");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "artifacts");

            migrationBuilder.DropColumn(
                name: "max_storage_bytes",
                table: "api_keys");
        }
    }
}
