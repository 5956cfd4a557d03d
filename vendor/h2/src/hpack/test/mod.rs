mod encode_bytes;
mod fixture;
mod fuzz;
