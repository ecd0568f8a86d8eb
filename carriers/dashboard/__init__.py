"""The retailers' click-and-collect dashboard for store staff, mounted at /store/."""
