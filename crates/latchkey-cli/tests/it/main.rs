//! The integration tests of the `latchkey` CLI, in one test binary with one module per
//! concern. `scripts/test.sh` runs them again against the shipped static build
//! (`LATCHKEY_TEST_CLI`).

mod support;

mod cli_config;
mod cli_dhis2;
mod cli_glewlwyd;
mod cli_idp;
mod cli_keyring;
mod cli_profiles;
