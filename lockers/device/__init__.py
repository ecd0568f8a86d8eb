"""The locker-facing device API (`/api/device/v1/`): signed requests, flows at the locker, offline sync."""
