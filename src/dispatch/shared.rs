//! What an instance holds for database mode (`DATABASE_URL`), where several instances
//! share one database: the database, this instance's name in claims, and the claims'
//! margin. (Decisions there: [`super::decisions::DbDecisions`].)

use std::sync::Arc;

use crate::db::Db;
use crate::store::quarantine::Quarantine;

/// How long a claim on a call or a release lasts past the Bland timeout before another
/// instance may treat its holder as gone.
pub const CLAIM_MARGIN_SECS: i64 = 30;

/// What an instance holds for database mode.
pub struct Shared {
    pub db: Db,
    /// This instance's name in claims and leases ([`Db::holder`]).
    pub holder: String,
    pub quarantine: Arc<Quarantine>,
}

impl Shared {
    pub fn new(db: Db, quarantine: Arc<Quarantine>) -> Self {
        Self {
            holder: db.holder.clone(),
            db,
            quarantine,
        }
    }
}
