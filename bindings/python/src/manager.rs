//! `Manager`: a thin view over one `latchkey::TokenManager`, for threads and event loops.
//!
//! The fast path (`header()` with a fresh token) stays attached to the interpreter, takes no
//! lock and returns one cached `str`. Everything else waits on the shared runtime: detached
//! for sync calls, through an asyncio future for the `a`-prefixed twins (in Python).

use std::sync::Arc;
use std::time::Duration;

use arc_swap::{ArcSwap, ArcSwapOption};
use futures::future::BoxFuture;
use http::HeaderValue;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};
use secrecy::SecretString;

use latchkey::{ClientAuth, OAuthClient, ProfileError, TokenManager};

use crate::errors;
use crate::grants;
use crate::header_cell::HeaderCell;
use crate::preset;
use crate::runtime::{block_on, into_future};
use crate::stores;
use crate::tokenset::TokenSet;

/// Builds the core manager again (first use, and in a forked child, whose copy of the
/// parent's manager holds connections and tasks of a runtime that no longer runs).
pub(crate) type Factory =
    Arc<dyn Fn() -> BoxFuture<'static, Result<TokenManager, ProfileError>> + Send + Sync>;

struct Built {
    pid: u32,
    manager: TokenManager,
}

/// The `str` handed out for the current header, so the fast path allocates nothing.
struct Cached {
    /// The header it was made from.
    value: HeaderValue,
    text: Py<PyString>,
}

pub(crate) struct Shared {
    factory: Factory,
    built: ArcSwap<Built>,
    cache: ArcSwapOption<Cached>,
    /// What `aheader` reads without calling in here.
    cell: Arc<HeaderCell>,
    describe: String,
    /// A CLI profile: hints name `latchkey` commands (the profile is shared with it).
    cli_hints: bool,
    /// The manager's `preset=`, whose advice errors get.
    preset: Option<&'static latchkey::Preset>,
    /// What runs before a login (the preset's check for an authorization server).
    login_check: Option<preset::LoginCheck>,
}

impl Shared {
    fn error(&self, py: Python<'_>, err: &ProfileError) -> PyErr {
        match err {
            ProfileError::Core(core) if !self.cli_hints => {
                errors::core(py, &preset::advise(self.preset, core))
            }
            _ => errors::profile(py, err),
        }
    }
}

impl Shared {
    /// This process's manager, rebuilt after a fork.
    async fn manager(self: &Arc<Self>) -> Result<TokenManager, ProfileError> {
        let pid = std::process::id();
        let built = self.built.load_full();
        if built.pid == pid {
            return Ok(built.manager.clone());
        }
        let manager = (self.factory)().await?;
        self.built.store(Arc::new(Built {
            pid,
            manager: manager.clone(),
        }));
        Ok(manager)
    }

    fn remember(&self, py: Python<'_>, value: HeaderValue) -> Py<PyString> {
        let text = PyString::new(py, &String::from_utf8_lossy(value.as_bytes())).unbind();
        self.cache.store(Some(Arc::new(Cached {
            value,
            text: text.clone_ref(py),
        })));
        text
    }

    fn fresh(&self, py: Python<'_>) -> Option<Py<PyString>> {
        let value = self.built.load().manager.cached_header()?;
        Some(self.text_of(py, value))
    }

    /// The fresh header, also put in the header cell for `aheader`.
    fn fresh_for_cell(&self, py: Python<'_>) -> PyResult<Option<Py<PyString>>> {
        if self.cell.is_filled() {
            // The adapters call this per request: no second look at the due moment.
            return Ok(self.fresh(py));
        }
        let Some((value, due)) = self.built.load().manager.cached_header_until() else {
            return Ok(None);
        };
        let text = self.text_of(py, value);
        self.cell.fill(py, &text, due)?;
        Ok(Some(text))
    }

    /// The `str` for `value`: the cached one when it is the same header.
    fn text_of(&self, py: Python<'_>, value: HeaderValue) -> Py<PyString> {
        // Each thread may hold its own copy of the header's bytes (the core's per-thread
        // fast path), so equal text, not only an equal address, means the same header.
        if let Some(cached) = &*self.cache.load()
            && (cached.value.as_bytes().as_ptr() == value.as_bytes().as_ptr()
                || cached.value.as_bytes() == value.as_bytes())
        {
            return cached.text.clone_ref(py);
        }
        self.remember(py, value)
    }
}

/// A token manager: obtains, refreshes, stores and shares the tokens of one key.
#[pyclass(frozen, subclass, module = "latchkey._core")]
pub(crate) struct Manager {
    pub(crate) shared: Arc<Shared>,
}

impl Manager {
    /// Builds the first manager now, so configuration errors surface at construction.
    pub(crate) fn create(
        py: Python<'_>,
        factory: Factory,
        describe: String,
        cli_hints: bool,
    ) -> PyResult<Self> {
        Self::create_with_preset(py, factory, describe, cli_hints, None, None)
    }

    /// As [`create`](Self::create), for a manager with a `preset=`.
    fn create_with_preset(
        py: Python<'_>,
        factory: Factory,
        describe: String,
        cli_hints: bool,
        preset: Option<&'static latchkey::Preset>,
        login_check: Option<preset::LoginCheck>,
    ) -> PyResult<Self> {
        let first = factory.clone();
        let manager = block_on(py, async move { first().await })?.map_err(|e| match e {
            ProfileError::Core(core) if !cli_hints => {
                errors::core(py, &preset::advise(preset, &core))
            }
            other => errors::profile(py, &other),
        })?;
        Ok(Self {
            shared: Arc::new(Shared {
                factory,
                built: ArcSwap::from_pointee(Built {
                    pid: std::process::id(),
                    manager,
                }),
                cache: ArcSwapOption::empty(),
                cell: HeaderCell::new(py)?,
                describe,
                cli_hints,
                preset,
                login_check,
            }),
        })
    }

    fn run<T, F, W>(&self, py: Python<'_>, work: W) -> PyResult<T>
    where
        T: Send + 'static,
        W: FnOnce(TokenManager) -> F + Send + 'static,
        F: Future<Output = latchkey::Result<T>> + Send,
    {
        let shared = self.shared.clone();
        block_on(py, async move {
            let manager = shared.manager().await?;
            work(manager).await.map_err(ProfileError::from)
        })?
        .map_err(|e| self.shared.error(py, &e))
    }

    fn run_async<'py, T, F, W, C>(
        &self,
        event_loop: Bound<'py, PyAny>,
        work: W,
        finish: C,
    ) -> PyResult<Bound<'py, PyAny>>
    where
        T: Send + 'static,
        W: FnOnce(TokenManager) -> F + Send + 'static,
        F: Future<Output = latchkey::Result<T>> + Send,
        C: FnOnce(Python<'_>, &Arc<Shared>, T) -> PyResult<Py<PyAny>> + Send + 'static,
    {
        let shared = self.shared.clone();
        let shared_after = self.shared.clone();
        into_future(
            event_loop,
            async move {
                let manager = shared.manager().await?;
                work(manager).await.map_err(ProfileError::from)
            },
            move |py, outcome| match outcome {
                Ok(value) => finish(py, &shared_after, value),
                Err(err) => Err(shared_after.error(py, &err)),
            },
        )
    }
}

/// The client authentication the `client_auth` keyword names (`"basic"` or `"post"`);
/// none without a secret.
pub(crate) fn client_auth_of(
    py: Python<'_>,
    method: &str,
    secret: Option<SecretString>,
) -> PyResult<ClientAuth> {
    Ok(match (method, secret) {
        (_, None) => ClientAuth::None,
        ("basic", Some(s)) => ClientAuth::SecretBasic(s),
        ("post", Some(s)) => ClientAuth::SecretPost(s),
        (other, Some(_)) => {
            return Err(errors::core(
                py,
                &latchkey::Error::Config(format!(
                    "client_auth is `{other}`; use \"basic\" (client_secret_basic) or \"post\" (client_secret_post)"
                )),
            ));
        }
    })
}

fn rejected(header: Option<&str>) -> Option<HeaderValue> {
    header.and_then(|h| HeaderValue::from_str(h).ok())
}

async fn invalidate(manager: TokenManager, sent: Option<HeaderValue>) -> latchkey::Result<()> {
    match sent {
        Some(sent) => {
            // A manager that holds no token yet (new, or rebuilt in a forked child) would
            // otherwise read the rejected token back from the store: load it first, so the
            // rejection applies to it.
            manager.tokens().await?;
            manager.invalidate_header(&sent).await
        }
        None => manager.invalidate().await,
    }
}

fn token_set(py: Python<'_>, tokens: Arc<latchkey::TokenSet>) -> PyResult<Py<PyAny>> {
    Ok(Py::new(py, TokenSet { inner: tokens })?.into_any())
}

#[pymethods]
impl Manager {
    #[new]
    #[pyo3(signature = (grant, *, token_url = None, client_id = None, client_secret = None, client_auth = None, store = None, key = None, refresh_margin = 60.0, lock_wait = 30.0, background_refresh = false, on_reauth_required = None, revocation_url = None, preset = None, issuer = None))]
    #[allow(clippy::too_many_arguments, reason = "Python keyword arguments")]
    fn new(
        py: Python<'_>,
        grant: &Bound<'_, PyAny>,
        token_url: Option<String>,
        client_id: Option<String>,
        client_secret: Option<String>,
        client_auth: Option<&str>,
        store: Option<&Bound<'_, PyAny>>,
        key: Option<String>,
        refresh_margin: f64,
        lock_wait: f64,
        background_refresh: bool,
        on_reauth_required: Option<Py<PyAny>>,
        revocation_url: Option<String>,
        preset: Option<&str>,
        issuer: Option<String>,
    ) -> PyResult<Self> {
        // Another view of an existing manager (what `latchkey.profile` wraps).
        if let Ok(existing) = grant.cast::<Manager>() {
            return Ok(Self {
                shared: existing.get().shared.clone(),
            });
        }
        let token_url = token_url.ok_or_else(|| {
            errors::core(
                py,
                &latchkey::Error::Config("no token_url: pass the token endpoint's URL".into()),
            )
        })?;
        let preset = preset::lookup(preset).map_err(|e| errors::core(py, &e))?;
        let grants::Extracted {
            spec,
            client_id: grant_client_id,
            client_secret: grant_secret,
        } = grants::extract(grant)?;
        let spec = preset::with_defaults(spec, preset);
        let login_check = preset::LoginCheck::new(preset, issuer.as_deref(), &spec);
        let public_client_id = preset.and_then(|p| p.public_client_id).map(String::from);
        let client_id = client_id
            .or(grant_client_id)
            .or(public_client_id)
            .ok_or_else(|| {
                errors::core(
                    py,
                    &latchkey::Error::Config(
                        "no client_id: pass client_id= to the manager or to the grant".into(),
                    ),
                )
            })?;
        let secret = client_secret.map(SecretString::from).or(grant_secret);
        let client_auth = client_auth.unwrap_or(preset::default_client_auth(preset));
        let auth = client_auth_of(py, client_auth, secret)?;
        let store = stores::extract(store)?;
        let seconds = |s: f64| Duration::try_from_secs_f64(s.max(0.0)).unwrap_or_default();
        let (margin, lock_wait) = (seconds(refresh_margin), seconds(lock_wait));
        let reauth = on_reauth_required.map(Arc::new);
        let describe = match preset {
            Some(p) => format!(
                "TokenManager(client_id={client_id:?}, token_url={token_url:?}, preset={:?})",
                p.name
            ),
            None => format!("TokenManager(client_id={client_id:?}, token_url={token_url:?})"),
        };
        let factory: Factory = Arc::new(move || {
            let (spec, client_id, auth, token_url, revocation_url, store, key, reauth) = (
                spec.clone(),
                client_id.clone(),
                auth.clone(),
                token_url.clone(),
                revocation_url.clone(),
                store.clone(),
                key.clone(),
                reauth.clone(),
            );
            Box::pin(async move {
                let mut client = OAuthClient::builder(client_id)
                    .auth(auth)
                    .token_url(token_url);
                if let Some(url) = revocation_url {
                    client = client.revocation_url(url);
                }
                if let Some(preset) = preset {
                    client = preset.configure_client(client);
                }
                let mut builder = TokenManager::builder(client.build()?, spec.build(preset)?)
                    .store(store.open().await?)
                    .refresh_margin(margin)
                    .lock_wait(lock_wait)
                    .background_refresh(background_refresh);
                if let Some(key) = key {
                    builder = builder.key(key);
                }
                if let Some(callback) = reauth {
                    builder = builder.on_reauth_required(move |err| {
                        let message = err.to_string();
                        Python::attach(|py| {
                            if let Err(e) = callback.call1(py, (message.as_str(),)) {
                                e.write_unraisable(py, Some(callback.bind(py)));
                            }
                        });
                    });
                }
                Ok(builder.build()?)
            })
        });
        Self::create_with_preset(py, factory, describe, false, preset, login_check)
    }

    /// The store key of this manager's tokens.
    #[getter]
    fn key(&self) -> String {
        self.shared.built.load().manager.key().to_owned()
    }

    /// The `Authorization` header value for a valid token, refreshing first if needed.
    fn header(&self, py: Python<'_>) -> PyResult<Py<PyString>> {
        if let Some(text) = self.shared.fresh(py) {
            return Ok(text);
        }
        let value = self.run(py, |m| async move { m.authorization_header().await })?;
        Ok(self.shared.remember(py, value))
    }

    /// The header when the token needs no refresh, else `None`; never waits.
    fn cached_header(&self, py: Python<'_>) -> PyResult<Option<Py<PyString>>> {
        self.shared.fresh_for_cell(py)
    }

    /// The one-item list holding the header while it is fresh (else `None`), which
    /// `aheader` reads first.
    fn _header_cell(&self, py: Python<'_>) -> Py<PyList> {
        self.shared.cell.list(py)
    }

    /// Empties the header cell (after an async invalidation, login or logout).
    fn _forget_header(&self, py: Python<'_>) {
        self.shared.cell.clear(py);
    }

    /// An asyncio future of the header, refreshing as needed (the slow half of `aheader`).
    fn _header_future<'py>(&self, event_loop: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        self.run_async(
            event_loop,
            |m| async move { m.authorization_header().await },
            |py, shared, value| Ok(shared.remember(py, value).into_any()),
        )
    }

    /// Refreshes now if the token is missing or close to expiry.
    fn refresh_if_needed(&self, py: Python<'_>) -> PyResult<()> {
        if self.shared.fresh(py).is_some() {
            return Ok(());
        }
        self.run(py, |m| async move { m.refresh_if_needed().await })
    }

    fn _refresh_future<'py>(&self, event_loop: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        self.run_async(
            event_loop,
            |m| async move { m.refresh_if_needed().await },
            |py, _, ()| Ok(py.None()),
        )
    }

    /// The server rejected `rejected` (the header a 401 answered; `None`: the current
    /// token): obtain a new token. A burst of 401s for one token refreshes once.
    #[pyo3(signature = (rejected = None))]
    fn invalidate(&self, py: Python<'_>, rejected: Option<&str>) -> PyResult<()> {
        let sent = self::rejected(rejected);
        self.shared.cell.clear(py);
        let outcome = self.run(py, move |m| invalidate(m, sent));
        // The core rejected the token on the runtime: a concurrent `cached_header` may
        // have put it back in the cell meanwhile.
        self.shared.cell.clear(py);
        outcome
    }

    #[pyo3(signature = (event_loop, rejected = None))]
    fn _invalidate_future<'py>(
        &self,
        event_loop: Bound<'py, PyAny>,
        rejected: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let sent = self::rejected(rejected);
        // Emptied again when the future is done (`ainvalidate`).
        self.shared.cell.clear(event_loop.py());
        self.run_async(
            event_loop,
            move |m| invalidate(m, sent),
            |py, _, ()| Ok(py.None()),
        )
    }

    /// Runs the grant now, even one that needs a person (browser, device code). Ctrl-C
    /// interrupts the wait.
    fn login(&self, py: Python<'_>) -> PyResult<TokenSet> {
        let check = self.shared.login_check.clone();
        let tokens = self.run(py, |m| async move {
            preset::LoginCheck::run(check).await?;
            m.login().await
        });
        // A login may be another account's: never hand out the previous header again.
        self.shared.cell.clear(py);
        Ok(TokenSet { inner: tokens? })
    }

    fn _login_future<'py>(&self, event_loop: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let check = self.shared.login_check.clone();
        self.run_async(
            event_loop,
            |m| async move {
                preset::LoginCheck::run(check).await?;
                m.login().await
            },
            |py, _, tokens| token_set(py, tokens),
        )
    }

    /// The current, valid tokens, refreshing first if needed.
    fn token(&self, py: Python<'_>) -> PyResult<TokenSet> {
        let tokens = self.run(py, |m| async move { m.tokens().await })?;
        Ok(TokenSet { inner: tokens })
    }

    fn _token_future<'py>(&self, event_loop: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        self.run_async(
            event_loop,
            |m| async move { m.tokens().await },
            |py, _, tokens| token_set(py, tokens),
        )
    }

    /// Revokes the tokens where the provider supports it and deletes them from the store.
    fn logout(&self, py: Python<'_>) -> PyResult<()> {
        self.shared.cache.store(None);
        self.shared.cell.clear(py);
        let outcome = self.run(py, |m| async move { m.logout().await });
        self.shared.cell.clear(py);
        outcome
    }

    fn _logout_future<'py>(&self, event_loop: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        self.shared.cache.store(None);
        // Emptied again when the future is done (`alogout`).
        self.shared.cell.clear(event_loop.py());
        self.run_async(
            event_loop,
            |m| async move { m.logout().await },
            |py, _, ()| Ok(py.None()),
        )
    }

    /// A snapshot: key, grant, store, validity, expiry (Unix seconds), scopes.
    fn status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let status = self.run(py, |m| async move { m.status().await })?;
        let dict = PyDict::new(py);
        dict.set_item("key", status.key)?;
        dict.set_item("grant", format!("{:?}", status.grant))?;
        dict.set_item("store", status.store)?;
        dict.set_item("valid", status.valid)?;
        dict.set_item(
            "expires_at",
            status.expires_at.map(|at| {
                at.duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs_f64()
            }),
        )?;
        dict.set_item("has_refresh_token", status.has_refresh_token)?;
        dict.set_item("scopes", status.scopes)?;
        Ok(dict)
    }

    fn __repr__(&self) -> String {
        self.shared.describe.clone()
    }
}
