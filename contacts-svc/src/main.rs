use clap::Parser;
use contacts_svc::config::{Cli, Command};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::HashToken) = cli.command {
        accommador_proto::auth::run_hash_token()?;
        return Ok(());
    }
    if let Some(Command::Healthcheck(args)) = &cli.command {
        accommador_proto::serve::run_healthcheck(cli.server.listen, cli.server.health_listen, args).await;
    }
    accommador_proto::serve::init_telemetry(cli.server.log_format);
    accommador_proto::serve::install_crypto_provider();
    if let Some(Command::Reconcile) = cli.command {
        let book = contacts_svc::server::connect_book(&cli.server).await?;
        let report = book.reconcile().await?;
        println!("{}", serde_json::to_string_pretty(&report)?);
        std::process::exit(if report.unrepairable > 0 { 2 } else { 0 });
    }
    accommador_proto::metrics::install(cli.server.metrics_listen)?;
    let app = contacts_svc::server::Application::build(cli.server).await?;
    app.run_until(accommador_proto::serve::shutdown_signal()).await
}
