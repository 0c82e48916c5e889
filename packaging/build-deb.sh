#!/usr/bin/env bash
# Builds the Debian package target/debian/plantdb-auth_<version>_<arch>.deb:
# the binary, a hardened systemd unit (Type=notify), the default
# configuration /etc/plantdb-auth/config.toml (a conffile), the manual page,
# shell completions and the documentation. Prints the package's path last.
#   bash packaging/build-deb.sh           # from the release build
#   bash packaging/build-deb.sh --debug   # from the debug build (CI's packaging test)
# Needs dpkg-deb (Debian's dpkg package) and strip (binutils); no cargo-deb.
# DEB_MAINTAINER sets the Maintainer field.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

profile=release
[ "${1:-}" = --debug ] && profile=debug
if [ "$profile" = release ]; then
    cargo build -q --release -p plantdb-auth
else
    cargo build -q -p plantdb-auth
fi
bin="target/$profile/plantdb-auth"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)"
arch="$(dpkg --print-architecture)"
out="target/debian"
root="$out/root"
rm -rf "$root"
mkdir -p "$root/DEBIAN"

install -D -m 0755 "$bin" "$root/usr/bin/plantdb-auth"
# Debug symbols stay out of the package (a debug build is 300 MB with them).
strip --strip-debug "$root/usr/bin/plantdb-auth"
install -D -m 0644 packaging/debian/plantdb-auth.service "$root/lib/systemd/system/plantdb-auth.service"
install -D -m 0644 packaging/debian/config.toml "$root/etc/plantdb-auth/config.toml"
mkdir -p "$root/usr/share/man/man1" "$root/usr/share/bash-completion/completions" \
    "$root/usr/share/zsh/vendor-completions" "$root/usr/share/fish/vendor_completions.d"
"$bin" manpage | gzip -9n > "$root/usr/share/man/man1/plantdb-auth.1.gz"
"$bin" completions bash > "$root/usr/share/bash-completion/completions/plantdb-auth"
"$bin" completions zsh > "$root/usr/share/zsh/vendor-completions/_plantdb-auth"
"$bin" completions fish > "$root/usr/share/fish/vendor_completions.d/plantdb-auth.fish"
doc="$root/usr/share/doc/plantdb-auth"
install -d "$doc"
install -m 0644 README.md CHANGELOG.md SECURITY.md docs/*.md "$doc/"
cat > "$doc/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: plantdb-auth

Files: *
License: LGPL-3.0-or-later
 On Debian systems the full text of the GNU Lesser General Public License
 version 3 is in /usr/share/common-licenses/LGPL-3.
COPYRIGHT

install -m 0755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm "$root/DEBIAN/"
echo /etc/plantdb-auth/config.toml > "$root/DEBIAN/conffiles"
size="$(du -sk --exclude=DEBIAN "$root" | cut -f1)"
cat > "$root/DEBIAN/control" <<CONTROL
Package: plantdb-auth
Version: $version
Architecture: $arch
Maintainer: ${DEB_MAINTAINER:-plantdb-auth packagers <root@localhost>}
Installed-Size: $size
Depends: libc6, libgcc-s1, adduser
Section: web
Priority: optional
Homepage: https://github.com/romi/plantdb
Description: PlantDB server: data API, web viewer and authentication
 One binary serving a PlantDB database (the ROMI plant-phenotyping
 database): the HTTP API of plantdb-server 0.17 and the routes the ROMI
 web viewer calls, accounts, sessions and roles, compatible with the
 Python tools' files. Runs as the systemd service plantdb-auth.
CONTROL

deb="$out/plantdb-auth_${version}_${arch}.deb"
dpkg-deb --build --root-owner-group "$root" "$deb" >/dev/null
echo "$deb"
