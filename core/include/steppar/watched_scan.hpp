// Scans that trust the kernel's events: how a run started by `steppar-host watch` avoids
// stat'ing a million files that did not change.
//
// The watcher gives each run a *window* (a file named by STEPPAR_WATCH_WINDOW): a token for the
// run, the token of the run it started before, and every path the kernel named under the
// followed folders since it started that run. A run keeps each scan it makes of a dataset
// nobody else writes during it (an input no node makes; an output only its own unit makes,
// scanned before the unit writes) under `<state>/watch/scans/`, marked with its token. The
// next run takes that scan, looks again at the paths of its window (a file: one stat; a
// folder: a walk of that folder) and has what a full walk would find, because every change
// since the kept scan was made is one of those paths:
//
//   scan kept by run k (at a moment after the watcher started run k)
//   + every path changed since the watcher started run k (run k+1's window), looked at now
//   = the folder now
//
// Anything that breaks the chain makes it a full walk, kept again for the next run: no kept
// scan of the window's "since", an empty "since" (the first run, a lost event, a scheduled
// rescan, a window too big), a walk that met a symbolic link (what changes behind one is not
// told), a folder on a network filesystem (other machines' writes are not told), a dataset
// path that is not its real path, a kept scan that is damaged.
#pragma once

#include "steppar/catalog.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace steppar {

/// The environment variable that names the run's window file; set by `watch` for its runs.
inline constexpr const char* watch_window_variable = "STEPPAR_WATCH_WINDOW";

struct WatchWindow {
    std::string token;               ///< this run's: the scans it keeps carry it
    std::string since;               ///< the previous run's token; empty: trust no kept scan
    std::vector<std::string> paths;  ///< every path changed since the previous run started (absolute, sorted)
};

/// Writes a window file (atomically); read_watch_window() reads one, throwing StateError
/// naming the file when it is not one.
void write_watch_window(const std::filesystem::path& file, const WatchWindow& window);
WatchWindow read_watch_window(const std::filesystem::path& file);

/// Where a state folder's watched scans and windows live.
std::filesystem::path watch_dir(const std::filesystem::path& state_root);

/// scan_partitions() (with stamps) of a dataset that nothing else writes while it is scanned,
/// from the kept scan and the window when the run has one and the chain holds, else by a walk
/// (which is then kept for the next run). Without a window it is scan_partitions(). A scan
/// from the window finds no temporaries (hidden files raise no event of interest): they are
/// swept at the next full walk.
PartitionScan scan_watched(const Dataset& dataset, bool missing_ok = false, std::vector<std::string>* temporaries = nullptr);
/// The same through an explicit window, keeping scans in `scans_dir` (what the one above does
/// with the run's window, and tests with theirs).
PartitionScan scan_watched(const Dataset& dataset, const WatchWindow& window, const std::filesystem::path& scans_dir, bool missing_ok = false,
                           std::vector<std::string>* temporaries = nullptr);

}  // namespace steppar
