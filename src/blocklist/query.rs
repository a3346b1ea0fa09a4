//! Listing flags: filters, ordering and pagination for `GET /api/admin/blocklist`.

use super::flag::{canonical_field, normalize_value, Flag, FlagError};
use super::Blocklist;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Order {
    #[default]
    AddedAt,
    Field,
    Value,
}

#[derive(Debug, Default, Clone)]
pub struct ListQuery {
    pub field: Option<String>,
    pub value: Option<String>,
    pub search: Option<String>,
    pub active: Option<bool>,
    pub limit: Option<usize>,
    pub offset: usize,
    pub order: Order,
    pub descending: bool,
}

impl Blocklist {
    /// Calls `page` with how many flags match `q` (all of them when `q` is empty) and the
    /// requested page of them, borrowed under the read lock (nothing is copied).
    pub fn list_with<R>(
        &self,
        q: &ListQuery,
        page: impl FnOnce(usize, &[&Flag]) -> R,
    ) -> Result<R, FlagError> {
        let now = self.now_ms();
        let field = q
            .field
            .as_deref()
            .map(canonical_field)
            .filter(|f| !f.is_empty());
        let value = match (&q.value, field) {
            (Some(v), Some(f)) => Some(normalize_value(f, v, self.country())?),
            (Some(v), None) => Some(v.trim().to_string()),
            (None, _) => None,
        };
        let needle = q
            .search
            .as_deref()
            .map(str::to_lowercase)
            .filter(|s| !s.is_empty());
        self.read(|index| {
            let keep = |f: &&Flag| {
                field.is_none_or(|want| &*f.field == want)
                    && q.active.is_none_or(|a| f.is_live(now) == a)
                    && value.as_deref().is_none_or(|want| {
                        // Without a field, a value is compared in each flag's own normal form.
                        f.value() == want
                            || (field.is_none()
                                && normalize_value(&f.field, want, self.country())
                                    .is_ok_and(|n| *f.value() == *n))
                    })
                    && needle.as_deref().is_none_or(|n| {
                        [Some(f.value()), f.reason.as_deref(), f.added_by.as_deref()]
                            .into_iter()
                            .flatten()
                            .any(|text| text.to_lowercase().contains(n))
                    })
            };
            let mut hits: Vec<&Flag> = match (field, value.as_deref()) {
                (Some(f), Some(v)) => index.with_value(f, v).filter(keep).collect(),
                _ => index.iter().filter(keep).collect(),
            };
            match q.order {
                Order::AddedAt => hits.sort_unstable_by_key(|f| f.age_key()),
                Order::Field => hits
                    .sort_unstable_by(|a, b| (&a.field, a.age_key()).cmp(&(&b.field, b.age_key()))),
                Order::Value => hits.sort_unstable_by(|a, b| {
                    (&a.value(), a.age_key()).cmp(&(&b.value(), b.age_key()))
                }),
            }
            if q.descending {
                hits.reverse();
            }
            let total = hits.len();
            let start = q.offset.min(total);
            let end = start
                .saturating_add(q.limit.unwrap_or(usize::MAX))
                .min(total);
            Ok(page(total, &hits[start..end]))
        })
    }
}
