"""ncshim — just enough Nextcloud/ownCloud server behaviour on top of WsgiDAV's
filesystem provider for nextcloudcmd / owncloudcmd to sync repeatedly.

Plain WebDAV servers only get these clients through the *first* sync.  From the
second sync on, discovery rejects every entry with "Server reported no permission,
ETag, file id" (nextcloudcmd 3.7) / "server reported no etag, file id"
(owncloudcmd 2.11).  The upload path also needs an ETag in the PUT response
("The server did not acknowledge the last chunk. (No e-tag was present)").
This module adds, and nothing more:

* live properties  oc:id, oc:fileid (from the inode), oc:permissions, oc:size
* a getetag on collections that changes whenever anything below changes
  (Nextcloud-style etag propagation, kept in memory per directory inode, so a
  moved folder's untouched sub-folders keep their etags; a per-process nonce is
  part of every collection etag, so a restart changes them all, which is safe)
* on successful PUT: ETag/OC-ETag equal to what PROPFIND will report afterwards,
  OC-FileId, and "X-OC-MTime: accepted" when the X-OC-Mtime header was honoured
  (WsgiDAV's own honor_mtime_header computes the ETag *before* setting mtime)
* GET status.php and ocs/v{1,2}.php/cloud/{capabilities,user} from the JSON
  files in fake-nextcloud/ (no auth needed)

Used by bench/webdav.sh and bench/memory.sh (server "nextcloud", config in
bench/lib.sh).  Configure via the "ncshim" section of the WsgiDAV config:  root (served dir), static_dir (fake-nextcloud JSON dir).
Only changes made through this server propagate collection etags; editing the
served directory behind its back is not detected (like Nextcloud without a scan).
"""

import os
import threading
import time
from urllib.parse import unquote, urlparse

from wsgidav import util
from wsgidav.fs_dav_provider import FileResource, FilesystemProvider, FolderResource
from wsgidav.mw.base_mw import BaseMiddleware

OC = "{http://owncloud.org/ns}"
_NONCE = f"{int(time.time() * 1000):x}"
_gen = {}  # directory inode -> change counter
_gen_lock = threading.Lock()


def bump(fs_dir, root):
    """Mark directory fs_dir and all its ancestors up to root as changed."""
    with _gen_lock:
        p = fs_dir
        while True:
            try:
                ino = os.stat(p).st_ino
                _gen[ino] = _gen.get(ino, 0) + 1
            except OSError:
                pass
            if len(p) <= len(root):
                break
            p = os.path.dirname(p)


def file_etag(fs_path):
    return util.get_file_etag(fs_path)


def folder_etag(st):
    # ctime_ns: changes when direct entries change or the folder itself is renamed,
    # and keeps a re-created folder with a recycled inode from reusing an old etag
    return f"{_NONCE}-{st.st_ino:x}-{_gen.get(st.st_ino, 0)}-{st.st_ctime_ns:x}"


class _OcProps:
    """Mixin adding ownCloud live properties to WsgiDAV fs resources."""

    _OC_NAMES = [OC + "id", OC + "fileid", OC + "permissions", OC + "size"]

    def get_property_names(self, *, is_allprop):
        names = super().get_property_names(is_allprop=is_allprop)
        return names + [n for n in self._OC_NAMES if n not in names]

    def get_property_value(self, name):
        st = self.file_stat
        if name == OC + "id":
            return f"{st.st_ino:08d}ncshim"
        if name == OC + "fileid":
            return str(st.st_ino)
        if name == OC + "permissions":
            return "RGDNVCK" if self.is_collection else "RGDNVW"
        if name == OC + "size":
            return "0" if self.is_collection else str(st.st_size)
        return super().get_property_value(name)


class NcFileResource(_OcProps, FileResource):
    pass


class NcFolderResource(_OcProps, FolderResource):
    def get_etag(self):
        return folder_etag(self.file_stat)

    def support_etag(self):
        return True


class NcFilesystemProvider(FilesystemProvider):
    def get_resource_inst(self, path, environ):
        self._count_get_resource_inst += 1
        fp = self._loc_to_file_path(path, environ)
        if not os.path.exists(fp) or os.path.islink(fp):
            return None
        if os.path.isdir(fp):
            return NcFolderResource(path, environ, fp)
        return NcFileResource(path, environ, fp)


class NcShim(BaseMiddleware):
    """WSGI middleware: fake OCS endpoints + etag propagation + PUT headers.

    Put it *first* in middleware_stack (before HTTPAuthenticator)."""

    MUTATING = {"PUT", "DELETE", "MKCOL", "MOVE", "COPY"}

    def __init__(self, wsgidav_app, next_app, config):
        super().__init__(wsgidav_app, next_app, config)
        opts = config.get("ncshim", {})
        self.root = os.path.realpath(opts["root"])
        sdir = opts["static_dir"]
        load = lambda n: open(os.path.join(sdir, n), "rb").read()  # noqa: E731
        caps, user = load("capabilities.json"), load("user.json")
        self.static = {"/status.php": load("status.json")}
        for v in ("v1", "v2"):
            self.static[f"/ocs/{v}.php/cloud/capabilities"] = caps
            self.static[f"/ocs/{v}.php/cloud/user"] = user
        # URL prefixes that map onto self.root (longest first)
        self.shares = sorted(config["provider_mapping"].keys(), key=len, reverse=True)

    def is_disabled(self):
        return False

    def _fs(self, url_path):
        """URL path (already unquoted) -> absolute fs path, or None."""
        for s in self.shares:
            s0 = s.rstrip("/")
            if url_path == s0 or url_path.startswith(s0 + "/"):
                rel = url_path[len(s0):].strip("/")
                return os.path.normpath(os.path.join(self.root, rel)) if rel else self.root
        return None

    def __call__(self, environ, start_response):
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "")
        if method in ("GET", "HEAD") and path in self.static:
            body = self.static[path]
            start_response("200 OK", [("Content-Type", "application/json; charset=utf-8"),
                                      ("Content-Length", str(len(body)))])
            return [b""] if method == "HEAD" else [body]
        if method not in self.MUTATING:
            return self.next_app(environ, start_response)
        # WsgiDAV 4.4 has already moved the share's prefix into SCRIPT_NAME.
        path = environ.get("SCRIPT_NAME", "") + path

        captured = {}

        def sr(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, list(headers)
            return lambda data: captured.setdefault("written", []).append(data)

        it = self.next_app(environ, sr)
        try:
            body = b"".join(captured.pop("written", [])) + b"".join(it)
        finally:
            if hasattr(it, "close"):
                it.close()
        status, headers = captured["status"], captured["headers"]
        code = int(status[:3])
        if 200 <= code < 300:
            headers = self._after_success(method, path, environ, headers)
        start_response(status, headers)
        return [body]

    def _after_success(self, method, path, environ, headers):
        fs = self._fs(path)
        if fs is None:
            return headers
        dirs = {os.path.dirname(fs)}
        if method == "MKCOL":
            dirs.add(fs)
        if method in ("MOVE", "COPY"):
            dest = environ.get("HTTP_DESTINATION", "")
            dfs = self._fs(unquote(urlparse(dest).path)) if dest else None
            if dfs:
                dirs.add(os.path.dirname(dfs))
                if os.path.isdir(dfs):
                    dirs.add(dfs)  # the moved/copied folder itself gets a new etag
            if method == "COPY":
                dirs.discard(os.path.dirname(fs))
        for d in dirs:
            if d.startswith(self.root):
                bump(d, self.root)
        if method == "PUT" and os.path.isfile(fs):
            st = os.stat(fs)
            et = file_etag(fs)
            headers = [(k, v) for k, v in headers if k.lower() not in ("etag", "oc-etag", "oc-fileid")]
            headers += [("ETag", f'"{et}"'), ("OC-ETag", f'"{et}"'),
                        ("OC-FileId", f"{st.st_ino:08d}ncshim")]
            mt = environ.get("HTTP_X_OC_MTIME")
            if mt and mt.isdigit() and int(st.st_mtime) == int(mt):
                headers.append(("X-OC-MTime", "accepted"))
        if method == "MKCOL" and os.path.isdir(fs):
            headers.append(("OC-FileId", f"{os.stat(fs).st_ino:08d}ncshim"))
        return headers
