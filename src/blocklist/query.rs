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
    /// Flags matching `q` (all of them when `q` is empty) and how many matched in total.
    pub fn list(&self, q: &ListQuery) -> Result<(usize, Vec<Flag>), FlagError> {
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
                        &*f.value == want
                            || (field.is_none()
                                && normalize_value(&f.field, want, self.country())
                                    .is_ok_and(|n| *f.value == *n))
                    })
                    && needle.as_deref().is_none_or(|n| {
                        [Some(&*f.value), f.reason.as_deref(), f.added_by.as_deref()]
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
                Order::Value => hits
                    .sort_unstable_by(|a, b| (&a.value, a.age_key()).cmp(&(&b.value, b.age_key()))),
            }
            if q.descending {
                hits.reverse();
            }
            let total = hits.len();
            let page = hits
                .into_iter()
                .skip(q.offset)
                .take(q.limit.unwrap_or(usize::MAX))
                .cloned()
                .collect();
            Ok((total, page))
        })
    }
}
