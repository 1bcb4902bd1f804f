//! Whether the first call with nothing stored may run the interactive login (dhis2w's
//! behaviour). Deciding whether a person is there to answer is the caller's job (the
//! profile layer looks at the terminal and the display); the manager only follows the
//! policy it is given.

/// What [`authorization_header`](super::TokenManager::authorization_header) does when no
/// usable token is stored and the grant needs a person (browser or device login).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum FirstCallLogin {
    /// Fail with [`Error::LoginRequired`](crate::Error::LoginRequired) (the default): a
    /// person runs [`login`](super::TokenManager::login) or `latchkey login` first.
    #[default]
    Off,
    /// Run the grant's login (open the browser, show the device code) once, shared by every
    /// concurrent caller, and store the result.
    On,
    /// Login on first call was asked for, but nobody can answer here (`reason` says why,
    /// e.g. no terminal and no display): fail like [`Off`](Self::Off), naming the opt-in
    /// and the reason in the error.
    Unavailable {
        /// Why no person can answer, in words for the user.
        reason: String,
    },
}
