import watcher
