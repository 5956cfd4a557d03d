mod fixture;
mod fuzz;
mod encode_bytes;
