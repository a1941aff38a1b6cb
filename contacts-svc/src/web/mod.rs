//! The plain HTTP side of contacts-svc's port, beside gRPC and gRPC-Web:
//! the stable picture URLs (`pictures`) and the web console's files
//! (`console`). Neither takes credentials: a stable URL is its own
//! authorization (an HMAC), and the console's files are public; the
//! console asks for a tenant and key itself and sends them with each call.

use std::{path::PathBuf, sync::Arc};

use axum::{Router, routing::get};
use tonic::service::Routes;

use crate::book::{ContactBook, STABLE_URL_PATH_PREFIX};

mod console;
mod pictures;

/// What the HTTP side serves, from the configuration.
#[derive(Debug, Clone)]
pub struct WebSettings {
    /// WEB_CONSOLE_DIR: the built console (`web/dist`), or none.
    pub console_dir: Option<PathBuf>,
    /// STABLE_URL_MAX_IN_PROGRESS: stable URLs resolved at once.
    pub max_resolving: usize,
}

/// `routes` (the gRPC services) with the HTTP routes added.
pub fn with_http_routes(routes: Routes, book: Arc<ContactBook>, settings: &WebSettings) -> Routes {
    let pictures = Router::new()
        .route(&format!("{STABLE_URL_PATH_PREFIX}{{tenant}}/{{image}}/{{size}}/{{signed}}"), get(pictures::resolve))
        .with_state(Arc::new(pictures::Resolver::new(book, settings.max_resolving)));
    let console = console::Console::new(settings.console_dir.clone());
    routes.into_axum_router().merge(pictures).fallback(move |request| console.clone().serve(request)).into()
}
