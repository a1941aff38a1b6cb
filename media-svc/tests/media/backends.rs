//! The S3 servers every storage test runs against: the embedded one always,
//! and Garage when `TEST_GARAGE_ENDPOINT` (set by `tests/run.sh`) names one.
//! In CI (`CI` set) the Garage leg is required, so it cannot be skipped silently.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use media_svc::{
    images::{ImageLibrary, LibrarySettings, Processor},
    pipeline::Pipeline,
    storage::{ObjectStore, S3Settings, embedded},
};

/// One backend with its own fresh bucket, so tests (and their janitors) never
/// see each other's objects.
pub struct Backend {
    pub name: &'static str,
    pub settings: S3Settings,
    _data_dir: Option<tempfile::TempDir>,
}

impl Backend {
    pub fn store(&self) -> ObjectStore {
        ObjectStore::new(&self.settings).expect("valid endpoints")
    }

    pub fn library(&self, pending_grace: Duration) -> Arc<ImageLibrary> {
        Arc::new(self.image_library(pending_grace))
    }

    /// A library of its own (another replica, as far as the bucket can
    /// tell), unshared so a test can still install an observer on it.
    pub fn image_library(&self, pending_grace: Duration) -> ImageLibrary {
        ImageLibrary::new(self.store(), Pipeline::default(), Processor::new(2, 8), LibrarySettings { pending_grace })
    }
}

fn fresh_bucket() -> String {
    format!("test-{}", uuid::Uuid::new_v4().simple())
}

pub async fn all() -> Vec<Backend> {
    let mut backends = vec![embedded_backend().await];
    match std::env::var("TEST_GARAGE_ENDPOINT") {
        Ok(endpoint) => backends.push(Backend {
            name: "garage",
            settings: S3Settings {
                endpoint: Some(endpoint),
                public_endpoint: None,
                region: "garage".into(),
                bucket: fresh_bucket(),
                access_key_id: std::env::var("TEST_GARAGE_ACCESS_KEY_ID").expect("TEST_GARAGE_ACCESS_KEY_ID"),
                secret_access_key: std::env::var("TEST_GARAGE_SECRET_ACCESS_KEY")
                    .expect("TEST_GARAGE_SECRET_ACCESS_KEY")
                    .into(),
                force_path_style: true,
            },
            _data_dir: None,
        }),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("TEST_GARAGE_ENDPOINT is not set: CI must run the Garage leg (tests/run.sh starts Garage)")
        }
        Err(_) => eprintln!("TEST_GARAGE_ENDPOINT not set: skipping the Garage leg (tests/run.sh sets it)"),
    }
    for backend in &backends {
        backend
            .store()
            .create_bucket_if_missing()
            .await
            .unwrap_or_else(|e| panic!("{}: create bucket: {e}", backend.name));
    }
    backends
}

async fn embedded_backend() -> Backend {
    let dir = tempfile::tempdir().expect("temp dir");
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = embedded::start(dir.path(), listen).await.expect("embedded S3 starts");
    Backend {
        name: "embedded",
        settings: S3Settings {
            endpoint: Some(server.endpoint),
            public_endpoint: None,
            region: "us-east-1".into(),
            bucket: fresh_bucket(),
            access_key_id: server.credentials.access_key_id,
            secret_access_key: server.credentials.secret_access_key,
            force_path_style: true,
        },
        _data_dir: Some(dir),
    }
}
