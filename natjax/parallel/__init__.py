"""Where arrays live and which processes run: one data-parallel mesh over every device
(`sharding`), and several hosts started and kept in agreement (`distributed`)."""
