"""What the Python tests share to talk to a running Millwright: tokens from the
development issuer and JSON calls that return (status, body) instead of raising."""
import json
import urllib.error
import urllib.request


class API:
    def __init__(self, base, issuer):
        self.base, self.issuer = base, issuer

    def token(self, roles, tenant=None):
        url = f"{self.issuer}/token?roles={roles}" + (f"&tenant={tenant}" if tenant else "")
        return json.load(urllib.request.urlopen(url))["access_token"]

    def call(self, method, path, bearer, body=None, raw=None, content_type="application/json"):
        """(status, parsed JSON or None) of one request; `raw` sends bytes as they are."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {bearer}")
        if data is not None:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request) as response:
                text = response.read()
                return response.status, json.loads(text) if text else None
        except urllib.error.HTTPError as error:
            text = error.read()
            return error.code, json.loads(text) if text else None
