//! Issue 8, bullets 6 and 7: fault drills.
