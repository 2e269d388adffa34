//! The HTTP client core: no Python here.
