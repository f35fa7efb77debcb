//! Runnable examples of volley; see the examples folder.
