use std::fmt;

use http::StatusCode;

/// A set of status codes (100–999) as a bitmap: membership is one shift and mask.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct StatusSet([u64; 16]);

impl StatusSet {
    pub(crate) fn from_codes(codes: &[u16]) -> Self {
        let mut set = Self::default();
        for &code in codes {
            if let Ok(status) = StatusCode::from_u16(code) {
                set.insert(status);
            }
        }
        set
    }

    pub(crate) fn insert(&mut self, status: StatusCode) {
        let code = usize::from(status.as_u16());
        self.0[code / 64] |= 1 << (code % 64);
    }

    pub(crate) fn remove(&mut self, status: StatusCode) {
        let code = usize::from(status.as_u16());
        self.0[code / 64] &= !(1 << (code % 64));
    }

    pub(crate) fn contains(&self, status: StatusCode) -> bool {
        let code = usize::from(status.as_u16());
        self.0[code / 64] & (1 << (code % 64)) != 0
    }

    fn codes(&self) -> impl Iterator<Item = u16> + '_ {
        (100..1000u16).filter(|&code| self.0[usize::from(code) / 64] & (1 << (code % 64)) != 0)
    }
}

impl fmt::Debug for StatusSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.codes()).finish()
    }
}
