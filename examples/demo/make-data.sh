#!/usr/bin/env bash
# Writes N deterministic text documents under DIR (default: 1000 under data/docs), some in
# subfolders, one with spaces and unicode in its name. Same arguments, same bytes.
set -euo pipefail
dir=${1:-data/docs}
count=${2:-1000}
mkdir -p "$dir"
words=(Alpha beta Gamma delta EPSILON zeta eta Theta iota kappa lambda Mu nu xi omicron Pi rho sigma tau upsilon)
awk -v n="$count" -v dir="$dir" -v w="${words[*]}" 'BEGIN {
  split(w, words, " "); seed = 12345
  for (i = 0; i < n; i++) {
    sub_dir = (i % 10 == 0) ? "group" (i % 3) "/" : ""
    file = dir "/" sub_dir sprintf("doc-%05d.txt", i)
    if (sub_dir != "") system("mkdir -p \"" dir "/" sub_dir "\"")
    lines = 1 + i % 17
    for (l = 0; l < lines; l++) {
      text = ""
      for (k = 0; k < 3 + (i * 7 + l) % 11; k++) {
        seed = (seed * 16807) % 2147483647  # exact in double precision
        text = text (k ? " " : "") words[1 + int(seed / 1024) % 20]
      }
      print text > file
    }
    close(file)
  }
  print "Caf\303\251 au lait\tand  tabs" > (dir "/caf\303\251 menu.txt")
}'
