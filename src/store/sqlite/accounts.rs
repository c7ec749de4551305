//! `Accounts` on SQLite. (Being written: see the store module docs for the contract.)

use super::SqliteStore;
use crate::domain::{OrgName, Plan, Role, Username};
use crate::store::{Accounts, OrgInfo, StoreError, StoreResult};

fn pending() -> StoreError {
    StoreError::Backend("the SQLite accounts backend is not written yet".into())
}

impl Accounts for SqliteStore {
    fn create_org(&self, _org: &OrgName, _plan: Plan) -> StoreResult<()> {
        Err(pending())
    }
    fn set_plan(&self, _org: &OrgName, _plan: Plan) -> StoreResult<()> {
        Err(pending())
    }
    fn org(&self, _org: &OrgName) -> StoreResult<Option<OrgInfo>> {
        Err(pending())
    }
    fn orgs(&self) -> StoreResult<Vec<OrgInfo>> {
        Err(pending())
    }
    fn create_user(&self, _user: &Username, _password_hash: &str) -> StoreResult<()> {
        Err(pending())
    }
    fn password_hash(&self, _user: &Username) -> StoreResult<Option<String>> {
        Err(pending())
    }
    fn set_member(&self, _org: &OrgName, _user: &Username, _role: Role) -> StoreResult<()> {
        Err(pending())
    }
    fn remove_member(&self, _org: &OrgName, _user: &Username) -> StoreResult<()> {
        Err(pending())
    }
    fn role(&self, _org: &OrgName, _user: &Username) -> StoreResult<Option<Role>> {
        Err(pending())
    }
    fn create_token(&self, _user: &Username, _token_hash: &str) -> StoreResult<()> {
        Err(pending())
    }
    fn revoke_token(&self, _token_hash: &str) -> StoreResult<bool> {
        Err(pending())
    }
    fn token_user(&self, _token_hash: &str) -> StoreResult<Option<Username>> {
        Err(pending())
    }
    fn create_session(&self, _h: &str, _user: &Username, _expires_unix: i64) -> StoreResult<()> {
        Err(pending())
    }
    fn session_user(&self, _h: &str, _now_unix: i64) -> StoreResult<Option<Username>> {
        Err(pending())
    }
    fn delete_session(&self, _h: &str) -> StoreResult<()> {
        Err(pending())
    }
}
