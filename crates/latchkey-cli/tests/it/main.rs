//! The integration tests of the `latchkey` CLI, in one test binary with one module per
//! concern. `scripts/test.sh` runs them again against the shipped static build
//! (`LATCHKEY_TEST_CLI`).

mod support;

mod cli_config;
mod cli_debug_http;
mod cli_dhis2;
mod cli_dpop;
mod cli_exchange;
mod cli_glewlwyd;
mod cli_help;
mod cli_helpers;
mod cli_idp;
mod cli_keyring;
mod cli_login_display;
mod cli_matrix;
mod cli_mtls;
mod cli_profiles;
mod cli_request;
mod cli_setup;
mod cli_status;
mod cli_step_up;
