//! How a command's error becomes its exit code: 2 when what the user gave is wrong (an option, a
//! text, a file to read or to resume), as for the options clap refuses; 1 for anything else.

/// An error in what the user gave (an option, a text, a file to resume or continue) rather than
/// in the run itself: the command line exits with 2 for it, as for options clap refuses.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// `e`, marked as the user's input being wrong (the command exits 2); the message is kept whole.
pub fn bad_input(e: anyhow::Error) -> anyhow::Error {
    if e.chain().any(|c| c.is::<BadInput>()) {
        e
    } else {
        anyhow::Error::new(BadInput(format!("{e:#}")))
    }
}

/// The exit code for `e`: 2 for [`BadInput`] anywhere in its chain, 1 for anything else.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    if e.chain().any(|c| c.is::<BadInput>()) {
        2
    } else {
        1
    }
}
