//! The jar's contents: a `cookie_store::CookieStore` plus the creation order and per-site
//! counts that its limits need (cookie_store keeps neither).

use std::collections::{BTreeMap, HashMap};

use cookie_store::{Cookie, CookieStore, RawCookie, StoreAction};
use url::Url;

use crate::policy::{self, Verdict};

/// Where cookie_store files a cookie: domain, path, name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Id {
    domain: String,
    path: String,
    name: String,
}

impl Id {
    fn of(cookie: &Cookie<'_>) -> Self {
        Self {
            domain: String::from(&cookie.domain),
            path: String::from(&cookie.path),
            name: cookie.name().to_owned(),
        }
    }
}

/// The jar's limits.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) max_cookies: usize,
    pub(crate) max_per_site: usize,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    store: CookieStore,
    /// Creation order (sequence → cookie); an update keeps the first creation time, as
    /// RFC 6265 §5.3 step 11.3 says.
    order: BTreeMap<u64, Id>,
    created: HashMap<Id, u64>,
    per_site: HashMap<String, usize>,
    next: u64,
}

impl State {
    /// Stores one cookie received from `url`; whether it was stored (or deleted the cookie
    /// it replaces).
    pub(crate) fn insert(
        &mut self,
        mut raw: RawCookie<'static>,
        url: &Url,
        limits: Limits,
    ) -> bool {
        match policy::check(&raw, url) {
            Verdict::Refuse => return false,
            Verdict::HostOnly => raw.unset_domain(),
            Verdict::Accept => {}
        }
        let Ok(cookie) = Cookie::try_from_raw_cookie(&raw, url) else {
            return false;
        };
        let id = Id::of(&cookie);
        match self.store.insert(cookie, url) {
            Ok(StoreAction::Inserted | StoreAction::UpdatedExisting) => {
                if !self.created.contains_key(&id) {
                    self.track(id, limits);
                }
                true
            }
            Ok(StoreAction::ExpiredExisting) => {
                self.forget(&id);
                true
            }
            Err(_) => false,
        }
    }

    /// The cookies to send to `url`, longest path first, then oldest first (RFC 6265 §5.4
    /// step 2).
    pub(crate) fn matches(&self, url: &Url) -> Vec<&Cookie<'static>> {
        let mut matched: Vec<(usize, u64, &Cookie<'static>)> = self
            .store
            .matches(url)
            .into_iter()
            .map(|cookie| {
                let created = self.created.get(&Id::of(cookie)).copied().unwrap_or(u64::MAX);
                (String::from(&cookie.path).len(), created, cookie)
            })
            .collect();
        matched.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        matched.into_iter().map(|(_, _, cookie)| cookie).collect()
    }

    /// Unexpired cookies, oldest first.
    pub(crate) fn unexpired(&self) -> impl Iterator<Item = &Cookie<'_>> {
        self.order.values().filter_map(|id| {
            self.store.get(&id.domain, &id.path, &id.name).filter(|cookie| !cookie.is_expired())
        })
    }

    pub(crate) fn clear(&mut self) {
        *self = Self::default();
    }

    fn track(&mut self, id: Id, limits: Limits) {
        let site = policy::site_of(&id.domain).to_owned();
        let seq = self.next;
        self.next += 1;
        self.order.insert(seq, id.clone());
        self.created.insert(id, seq);
        let in_site = self.per_site.entry(site.clone()).or_default();
        *in_site += 1;
        let over_site = *in_site > limits.max_per_site;
        if over_site || self.created.len() > limits.max_cookies {
            self.purge_expired();
        }
        if self.per_site.get(&site).is_some_and(|&n| n > limits.max_per_site) {
            let oldest =
                self.order.values().find(|id| policy::site_of(&id.domain) == site).cloned();
            if let Some(oldest) = oldest {
                self.forget(&oldest);
            }
        }
        if self.created.len() > limits.max_cookies
            && let Some(oldest) = self.order.values().next().cloned()
        {
            self.forget(&oldest);
        }
    }

    fn forget(&mut self, id: &Id) {
        self.store.remove(&id.domain, &id.path, &id.name);
        let Some(seq) = self.created.remove(id) else {
            return;
        };
        self.order.remove(&seq);
        let site = policy::site_of(&id.domain);
        if let Some(count) = self.per_site.get_mut(site) {
            *count -= 1;
            if *count == 0 {
                self.per_site.remove(site);
            }
        }
    }

    /// Drops expired cookies (cookie_store only marks them): linear, and only run when a
    /// limit is reached.
    fn purge_expired(&mut self) {
        let expired: Vec<Id> =
            self.store.iter_any().filter(|c| c.is_expired()).map(Id::of).collect();
        for id in &expired {
            self.forget(id);
        }
    }
}
