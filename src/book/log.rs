//! Every warning or error that mdBook logs while building fails the build: a global `tracing`
//! layer captures them.

use std::sync::{Mutex, OnceLock};

/// Collects every WARN and ERROR event (from `tracing`, and from `log` through its bridge).
struct CaptureLayer;

static CAPTURED: Mutex<Vec<String>> = Mutex::new(Vec::new());

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for CaptureLayer {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let level = *event.metadata().level();
        if level != tracing::Level::WARN && level != tracing::Level::ERROR {
            return;
        }
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if !self.0.is_empty() {
                    self.0.push(' ');
                }
                if field.name() == "message" {
                    self.0.push_str(&format!("{value:?}"));
                } else {
                    self.0.push_str(&format!("{}={value:?}", field.name()));
                }
            }
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        let line = format!("{level} {}: {}", event.metadata().target(), message.0);
        CAPTURED
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(line);
    }
}

/// Install, once per process, a global subscriber: log lines to stderr (filtered by `RUST_LOG`,
/// `warn` by default) and the capture layer (never filtered, so `RUST_LOG` cannot hide a problem).
///
/// It must be global: a thread-local subscriber misses events from worker threads.
pub fn init_logging() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        use tracing_subscriber::prelude::*;
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
        let fmt = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_target(true)
            .with_filter(filter);
        let _ = tracing_subscriber::registry()
            .with(fmt)
            .with(CaptureLayer)
            .try_init();
    });
}

pub(super) struct LogCapture;

impl LogCapture {
    pub(super) fn start() -> Self {
        init_logging();
        CAPTURED.lock().unwrap_or_else(|p| p.into_inner()).clear();
        LogCapture
    }

    pub(super) fn finish(self) -> Vec<String> {
        std::mem::take(&mut *CAPTURED.lock().unwrap_or_else(|p| p.into_inner()))
    }
}
