use accommador_server::{serve::start_process, shutdown::shutdown_signal, telemetry, tls};
use clap::Parser;
use contacts_svc::config::{Cli, Command};

fn main() -> anyhow::Result<()> {
    // Before the runtime starts any thread.
    accommador_server::memory::release_large_blocks();
    tokio::runtime::Runtime::new()?.block_on(run(Cli::parse()))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Some(Command::Server(command)) => {
            return command.run(cli.server.listen, cli.server.serving.health_listen).await;
        }
        Some(Command::Reconcile) => {
            telemetry::init_logs(cli.server.serving.log_format);
            tls::install_crypto_provider();
            // Reconciliation hands out no URLs: the configured address will do.
            let book = contacts_svc::server::connect_book(&cli.server, cli.server.listen).await?;
            let report = book.reconcile().await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            std::process::exit(if report.unrepairable > 0 { 2 } else { 0 });
        }
        None => {}
    }
    let telemetry = start_process("contacts-svc", &cli.server.serving, cli.server.metrics_listen)?;
    let served = match contacts_svc::server::Application::build(cli.server).await {
        Ok(app) => app.run_until(shutdown_signal()).await,
        Err(error) => Err(error),
    };
    telemetry.shutdown().await;
    served
}
