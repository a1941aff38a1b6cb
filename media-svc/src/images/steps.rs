//! Hooks at the steps of the upload and release protocols, so a test can hold an upload
//! still at a chosen point and run a janitor step there. Races between
//! replicas are otherwise a matter of luck to reproduce; with these a test
//! forces the one interleaving it means to check. Production code installs
//! no observer, and an unset observer costs one branch per step.

use futures::future::BoxFuture;

/// A point in [`super::ImageLibrary::upload`] or [`super::ImageLibrary::release`].
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolStep {
    /// The claims were read; the lease is about to be written.
    UploadBeforeLease,
    /// The image was found complete, or stored anew; the upload is about to
    /// answer.
    UploadVerified,
    /// A release found no claim left and is about to write its `deleting/`
    /// marker: a claim made now must still be seen.
    ReleaseBeforeMarker,
}

/// Called at every [`ProtocolStep`]; the upload waits for the returned future.
#[doc(hidden)]
pub trait StepObserver: Send + Sync {
    fn reached(&self, step: ProtocolStep) -> BoxFuture<'_, ()>;
}
