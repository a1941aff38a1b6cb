use clap::Parser;
use media_svc::config::{Cli, Command};

fn main() -> anyhow::Result<()> {
    media_svc::memory::retain_decode_buffers();
    let cli = Cli::parse();
    match cli.command {
        // Offline commands: no runtime, no listener (a metrics port would
        // clash with a media-svc running on the same host).
        Some(Command::Process(args)) => {
            accommador_proto::serve::init_telemetry(cli.server.log_format);
            let failures = media_svc::process::run(&args)?;
            std::process::exit(i32::from(failures > 0));
        }
        Some(Command::HashToken) => {
            accommador_proto::auth::run_hash_token()?;
            Ok(())
        }
        Some(Command::Healthcheck(_)) | None => tokio::runtime::Runtime::new()?.block_on(serve(cli)),
    }
}

async fn serve(cli: Cli) -> anyhow::Result<()> {
    if let Some(Command::Healthcheck(args)) = &cli.command {
        accommador_proto::serve::run_healthcheck(cli.server.listen, cli.server.health_listen, args).await;
    }
    accommador_proto::serve::init_telemetry(cli.server.log_format);
    accommador_proto::serve::install_crypto_provider();
    accommador_proto::metrics::install(cli.server.metrics_listen)?;
    let app = media_svc::server::Application::build(cli.server).await?;
    app.run_until(accommador_proto::serve::shutdown_signal()).await
}
