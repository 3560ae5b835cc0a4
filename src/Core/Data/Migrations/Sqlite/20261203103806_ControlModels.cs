using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Easel.Core.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class ControlModels : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "kind",
                table: "worker_models",
                type: "TEXT",
                maxLength: 32,
                nullable: false,
                defaultValue: "pipeline");

            migrationBuilder.AddColumn<string>(
                name: "layout",
                table: "worker_models",
                type: "TEXT",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "kind",
                table: "worker_models");

            migrationBuilder.DropColumn(
                name: "layout",
                table: "worker_models");
        }
    }
}
