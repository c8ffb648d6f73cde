//! The 1C Native API component.
