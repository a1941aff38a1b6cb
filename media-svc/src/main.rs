use clap::Parser;
use media_svc::config::{Cli, Command};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::Healthcheck) = cli.command {
        accommador_proto::serve::run_healthcheck(cli.server.listen).await;
    }
    accommador_proto::serve::init_telemetry(cli.server.log_format);
    accommador_proto::serve::install_crypto_provider();
    accommador_proto::metrics::install(cli.server.metrics_listen)?;
    match cli.command {
        Some(Command::Healthcheck) => unreachable!("handled before telemetry"),
        Some(Command::HashToken) => {
            let mut token = String::new();
            std::io::stdin().read_line(&mut token)?;
            println!("{}", accommador_proto::auth::hash_token(&token));
            Ok(())
        }
        Some(Command::Process(args)) => {
            let failures = media_svc::process::run(&args)?;
            std::process::exit(i32::from(failures > 0));
        }
        None => {
            let app = media_svc::server::Application::build(cli.server).await?;
            app.run_until(accommador_proto::serve::shutdown_signal()).await
        }
    }
}
