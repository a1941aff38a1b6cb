use clap::Parser;
use contacts_svc::config::Cli;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    accommador_proto::serve::init_telemetry(cli.server.log_format);
    let app = contacts_svc::server::Application::build(cli.server).await?;
    app.run_until(accommador_proto::serve::shutdown_signal()).await
}
