"""The shell scripts that helper containers run (constants: their parameters come from the
environment, set by template.py after validation, never interpolated).

A restore runs in three steps, one helper each, so that the sidecar can write its journal
(the job's file on the archives volume) between them and a restart can finish or undo the work:

1. ``extract``: the archive is extracted into a staging folder ``.jhub-restore-JOB`` inside each
   target volume (``STAGE/new``); nothing else is touched. Undone by ``discard``.
2. ``swap``: the current content is moved aside into ``STAGE/old`` and the staged content moved
   in, by renames within the volume. Idempotent: run again after an interruption anywhere, it
   finishes the same swap (the ``STAGE/old-moved`` marker separates its two halves).
3. ``discard``: the staging folders are removed (the old content with them: the safety export
   holds it). Also the roll-back of an interrupted ``extract``.
"""

_COMMON = r"""
set -eu -o pipefail
set -f
targets=($JHUB_TARGETS)
"""

RESTORE_EXTRACT = _COMMON + r"""
decompress() {
  case "$JHUB_COMPRESSOR" in
    zstd) zstd -q -d -c -- "$JHUB_ARCHIVE" ;;
    pigz|gzip) gzip -d -c -- "$JHUB_ARCHIVE" ;;
    *) echo "unknown compressor" >&2; return 90 ;;
  esac
}
untar() {
  # tar stops at the end-of-archive marker; the zero padding of the last record (up to
  # 1 MiB) is read too, or the decompressor would fail on a closed pipe.
  tar --extract --file=- --numeric-owner --same-owner --same-permissions "$@" && cat > /dev/null
}
for t in "${targets[@]}"; do
  # Staging folders of older restores (their jobs are closed: the sidecar admits no restore
  # while one is still to recover) and of an earlier attempt of this one are removed first.
  find "/dst/$t" -mindepth 1 -maxdepth 1 -name '.jhub-restore-*' -exec rm -rf -- {} +
  member="$t"
  if [ -n "${JHUB_USER:-}" ]; then member="home/$JHUB_USER"; fi
  mkdir -m 0700 -- "/dst/$t/$JHUB_STAGE"
  mkdir -m 0700 -- "/dst/$t/$JHUB_STAGE/new"
  decompress | untar -C "/dst/$t/$JHUB_STAGE/new" -- "$member"
  test -d "/dst/$t/$JHUB_STAGE/new/$member"
  # Durable before the journal says "swap": the swap then only renames.
  sync -f -- "/dst/$t"
done
echo "JHUB-EXTRACTED"
"""

RESTORE_SWAP = _COMMON + r"""
for t in "${targets[@]}"; do
  dst="/dst/$t"; stage="$dst/$JHUB_STAGE"
  test -d "$stage/new"
  if [ -n "${JHUB_USER:-}" ]; then
    # One user's home: a rename of the folder.
    home="$dst/$JHUB_USER"; new="$stage/new/home/$JHUB_USER"
    if [ ! -e "$stage/old-moved" ]; then
      if [ -e "$home" ] || [ -L "$home" ]; then mv -T -- "$home" "$stage/old"; fi
      touch -- "$stage/old-moved"
    fi
    if [ -e "$new" ]; then
      # The hub runs meanwhile: a home recreated since is moved aside too, never merged.
      if [ -e "$home" ] || [ -L "$home" ]; then mv -t "$(mktemp -d -p "$stage" late.XXXXXX)" -- "$home"; fi
      mv -T -- "$new" "$home"
    fi
    sync -f -- "$dst"
    echo "JHUB-RESTORED home/$JHUB_USER"
    continue
  fi
  # A whole volume: its root cannot be renamed, its entries are.
  new="$stage/new/$t"
  if [ ! -e "$stage/old-moved" ]; then
    mkdir -p -m 0700 -- "$stage/old"
    find "$dst" -mindepth 1 -maxdepth 1 ! -name "$JHUB_STAGE" -exec mv -t "$stage/old" -- {} +
    touch -- "$stage/old-moved"
  fi
  find "$new" -mindepth 1 -maxdepth 1 -exec mv -t "$dst" -- {} +
  chown --reference="$new" -- "$dst"
  chmod --reference="$new" -- "$dst"
  touch --reference="$new" -- "$dst"
  sync -f -- "$dst"
  echo "JHUB-RESTORED $t"
done
"""

RESTORE_DISCARD = _COMMON + r"""
for t in "${targets[@]}"; do rm -rf -- "/dst/$t/$JHUB_STAGE"; done
echo "JHUB-DISCARDED"
"""

RESTORE_SCRIPTS = {"extract": RESTORE_EXTRACT, "swap": RESTORE_SWAP, "discard": RESTORE_DISCARD}

#: The disk use of each volume to export, for the free-space check: allocated bytes (a sparse
#: file counts for its data, as tar --sparse stores it) and the number of entries (a tar header
#: each). Staging folders are not exported, so not counted. du's status is ignored: a file
#: removed during the walk (a student saving) is no reason to refuse.
DISK_USE = _COMMON + r"""
for t in "${targets[@]}"; do
  bytes=$(du -s -x -B1 --exclude='.jhub-restore-*' -- "/src/$t" | cut -f1) || true
  entries=$(du -s -x --inodes --exclude='.jhub-restore-*' -- "/src/$t" | cut -f1) || true
  echo "JHUB-USE $t ${bytes:-x} ${entries:-x}"
done
"""
