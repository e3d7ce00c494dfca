import { readFile } from 'node:fs/promises'

// Users and groups read straight from /etc/passwd and /etc/group: Node has no getpwnam, and spawning
// `id` for every file the provisioner owns would make a no-change run slow.

export interface Account {
  name: string
  uid: number
  gid: number
  home: string
}

export interface Group {
  name: string
  gid: number
  members: string[]
}

export function parsePasswd(text: string): Account[] {
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => line.split(':'))
    .filter((fields) => fields.length >= 7)
    .map(([name, , uid, gid, , home]) => ({ name: name!, uid: Number(uid), gid: Number(gid), home: home! }))
}

export function parseGroup(text: string): Group[] {
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => line.split(':'))
    .filter((fields) => fields.length >= 4)
    .map(([name, , gid, members]) => ({
      name: name!,
      gid: Number(gid),
      members: members!.split(',').filter((member) => member !== ''),
    }))
}

export interface AccountDatabase {
  user(name: string): Account | undefined
  group(name: string): Group | undefined
  /** True when `user` has `group` as its primary group or is listed as a member. */
  isMember(user: string, group: string): boolean
  /** The names of a uid and a gid, for messages. */
  userName(uid: number): string | undefined
  groupName(gid: number): string | undefined
}

export function accountDatabase(passwd: string, group: string): AccountDatabase {
  const users = parsePasswd(passwd)
  const groups = parseGroup(group)
  const findUser = (name: string) => users.find((u) => u.name === name)
  const findGroup = (name: string) => groups.find((g) => g.name === name)
  return {
    user: findUser,
    group: findGroup,
    isMember(userName, groupName) {
      const g = findGroup(groupName)
      if (g === undefined) return false
      return g.members.includes(userName) || findUser(userName)?.gid === g.gid
    },
    userName: (uid) => users.find((u) => u.uid === uid)?.name,
    groupName: (gid) => groups.find((g) => g.gid === gid)?.name,
  }
}

/** Reads the system's account files afresh (they change when a step adds a user). */
export async function readAccounts(etc = '/etc'): Promise<AccountDatabase> {
  const [passwd, group] = await Promise.all([
    readFile(`${etc}/passwd`, 'utf8'),
    readFile(`${etc}/group`, 'utf8'),
  ])
  return accountDatabase(passwd, group)
}
