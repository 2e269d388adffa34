//! The local Petro.ai + Petra Security emulator (axum). See issue 4.
