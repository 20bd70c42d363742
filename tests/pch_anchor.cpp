// Anchor for the shared precompiled LibTorch header of the torch tests.
