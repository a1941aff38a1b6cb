use accommador_server::{serve::start_process, shutdown::shutdown_signal, telemetry};
use clap::Parser;
use media_svc::config::{Cli, Command};

fn main() -> anyhow::Result<()> {
    accommador_server::memory::release_large_blocks();
    let cli = Cli::parse();
    match cli.command {
        // Offline: no listener (a metrics port would clash with a media-svc
        // running on the same host) and no trace export.
        Some(Command::Process(args)) => {
            telemetry::init_logs(cli.server.serving.log_format);
            let failures = media_svc::process::run(&args)?;
            std::process::exit(i32::from(failures > 0));
        }
        Some(Command::Server(command)) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(command.run(cli.server.listen, cli.server.serving.health_listen)),
        None => tokio::runtime::Runtime::new()?.block_on(serve(cli)),
    }
}

async fn serve(cli: Cli) -> anyhow::Result<()> {
    let telemetry = start_process("media-svc", &cli.server.serving, cli.server.metrics_listen)?;
    let served = match media_svc::server::Application::build(cli.server).await {
        Ok(app) => app.run_until(shutdown_signal()).await,
        Err(error) => Err(error),
    };
    telemetry.shutdown().await;
    served
}
