// Package control is imdsd's local control API: the daemon serves it on a
// unix socket (a named pipe on Windows) and the imdsd commands status, use,
// reload, mfa and creds are its clients.
//
// The protocol is one small JSON request per connection, one JSON reply,
// then the connection closes:
//
//	-> {"cmd":"status"}
//	<- {"ok":true,"data":{...}}
//	-> {"cmd":"use","args":{"role":"admin"}}
//	<- {"ok":false,"error":"role \"admin\" is not configured"}
//
// Access control is the file system's: the socket is 0660 and belongs to the
// daemon's group, under a runtime directory only the daemon's user writes.
// That matters because "creds" hands out secrets; nothing else guards it.
// So [Listen] refuses a directory another user could control (issue 15: a
// per-user $TMPDIR/imdsd-UID made first by someone else), and clients check
// who serves the socket before they send a command: the kernel's peer
// credentials must name this user, root, or the owner of a directory that
// only root could have made.
package control
