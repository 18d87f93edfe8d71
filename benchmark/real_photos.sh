#!/usr/bin/env bash
# Fetch a set of real photographs for the benchmark's `real` workload and the draft study:
# the 40 JPEG wallpapers (photographs by named photographers, 1.3 to 24 megapixels, most of
# them progressive, some with EXIF) of five Debian packages. Needs apt (Debian/Ubuntu);
# nothing is installed, the packages are only downloaded and unpacked.
#
#   bash benchmark/real_photos.sh [FOLDER]      # default: resources/photos
set -euo pipefail
dest=${1:-resources/photos}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download lomiri-wallpapers lomiri-wallpapers-16.04 \
    lomiri-wallpapers-20.04 mate-backgrounds ukui-wallpapers >/dev/null)
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$work/tree"; done
mkdir -p "$dest"
find "$work/tree/usr/share/backgrounds" -iname '*.jpg' -exec cp {} "$dest/" \;
echo "$(find "$dest" -iname '*.jpg' | wc -l) photographs in $dest"
