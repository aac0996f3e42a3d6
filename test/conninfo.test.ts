// libpq connection strings, both forms. Expected values are libpq's documented meaning of each example
// (libpq.sgml, "Connection Strings"), not our output.
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../src/errors.js';
import { parseConnectionString, serverAddresses } from '../src/protocol/index.js';

describe('key=value form', () => {
  it('reads spaces around "=", quoted values and backslash escapes', () => {
    expect(parseConnectionString("host=localhost port=5432 dbname=mydb connect_timeout=10")).toEqual({ host: 'localhost', port: '5432', dbname: 'mydb', connect_timeout: '10' });
    expect(parseConnectionString("  user = 'jo \\'x\\' y'  password='a\\\\b' application_name=pg\\ wal ")).toEqual({ user: "jo 'x' y", password: 'a\\b', application_name: 'pg wal' });
    expect(parseConnectionString("password=''")).toEqual({ password: '' });
    expect(parseConnectionString('host=/path/to/socketdir port=5433')).toEqual({ host: '/path/to/socketdir', port: '5433' });
  });

  it('a bare word is a database name', () => {
    expect(parseConnectionString('mydb')).toEqual({ dbname: 'mydb' });
  });

  it('refuses unknown keywords, a missing "=", an open quote; hides the password in the message', () => {
    expect(() => parseConnectionString('hots=x')).toThrow(/invalid connection option "hots"/);
    expect(() => parseConnectionString('host')).not.toThrow();
    expect(() => parseConnectionString('host x=1')).toThrow(/missing "=" after "host"/);
    expect(() => parseConnectionString("password='secret")).toThrow(InvalidArgumentError);
    try {
      parseConnectionString("password='secret");
    } catch (e) {
      expect((e as Error).message).not.toContain('secret');
    }
  });
});

describe('URI form', () => {
  it('the examples of the libpq documentation', () => {
    expect(parseConnectionString('postgresql://')).toEqual({});
    expect(parseConnectionString('postgresql://localhost')).toEqual({ host: 'localhost' });
    expect(parseConnectionString('postgresql://localhost:5433')).toEqual({ host: 'localhost', port: '5433' });
    expect(parseConnectionString('postgresql://localhost/mydb')).toEqual({ host: 'localhost', dbname: 'mydb' });
    expect(parseConnectionString('postgresql://user@localhost')).toEqual({ user: 'user', host: 'localhost' });
    expect(parseConnectionString('postgresql://user:secret@localhost')).toEqual({ user: 'user', password: 'secret', host: 'localhost' });
    expect(parseConnectionString('postgresql://other@localhost/otherdb?connect_timeout=10&application_name=myapp')).toEqual({
      user: 'other',
      host: 'localhost',
      dbname: 'otherdb',
      connect_timeout: '10',
      application_name: 'myapp',
    });
    expect(parseConnectionString('postgresql://host1:123,host2:456/somedb?target_session_attrs=any&application_name=myapp')).toEqual({
      host: 'host1,host2',
      port: '123,456',
      dbname: 'somedb',
      target_session_attrs: 'any',
      application_name: 'myapp',
    });
    expect(parseConnectionString('postgresql:///mydb?host=localhost&port=5433')).toEqual({ dbname: 'mydb', host: 'localhost', port: '5433' });
    expect(parseConnectionString('postgresql://[2001:db8::1234]/database')).toEqual({ host: '2001:db8::1234', dbname: 'database' });
    expect(parseConnectionString('postgresql://%2Fvar%2Flib%2Fpostgresql/dbname')).toEqual({ host: '/var/lib/postgresql', dbname: 'dbname' });
    expect(parseConnectionString('postgres://u%40x:p%3Aw@h/d?ssl=true')).toEqual({ user: 'u@x', password: 'p:w', host: 'h', dbname: 'd', sslmode: 'require' });
  });

  it('refuses malformed parameters', () => {
    expect(() => parseConnectionString('postgresql://h/d?foo=1')).toThrow(/invalid connection option "foo"/);
    expect(() => parseConnectionString('postgresql://h/d?port')).toThrow(/missing key\/value separator/);
    expect(() => parseConnectionString('postgresql://[::1/d')).toThrow(/missing "\]"/);
    expect(() => parseConnectionString('postgresql://h/%zz')).toThrow(/invalid percent-encoded token/);
  });
});

describe('host lists', () => {
  it('pairs hosts with one port or one port each; a leading "/" is a socket folder', () => {
    expect(serverAddresses({ host: '/tmp,db.example,10.0.0.1', port: '5433' }, { host: '/var/run/postgresql', port: 5432 })).toEqual([
      { host: '/tmp', port: 5433, unixSocket: true },
      { host: 'db.example', port: 5433, unixSocket: false },
      { host: '10.0.0.1', port: 5433, unixSocket: false },
    ]);
    expect(serverAddresses({ host: 'a,b', port: '1,' }, { host: '/s', port: 5432 })).toEqual([
      { host: 'a', port: 1, unixSocket: false },
      { host: 'b', port: 5432, unixSocket: false },
    ]);
    expect(serverAddresses({}, { host: '/s', port: 5432 })).toEqual([{ host: '/s', port: 5432, unixSocket: true }]);
    expect(() => serverAddresses({ host: 'a,b,c', port: '1,2' }, { host: '/s', port: 5432 })).toThrow(/could not match 2 port numbers to 3 hosts/);
    expect(() => serverAddresses({ port: '99999' }, { host: '/s', port: 5432 })).toThrow(/invalid port number/);
  });
});
