/** Ad hoc RPMs built with rpmbuild for the repodata tests (edge cases createrepo_c treats specially). */
import { mkdirSync, writeFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { run } from '../../helpers/repodata.js';

const ALPHA = `Name: alpha
Epoch: 3
Version: 1.2
Release: 4
Summary: Alpha & <beta> "quoted" ünïcode
License: MIT & GPL
Group: Applications/Test
URL: https://example.com/a?b=1&c=2
Vendor: ACME <acme@example.com>
Packager: Jane <jane@example.com>
BuildArch: x86_64
Provides: alpha-cap = 1:2.0-1
Provides: alpha-nover
Provides: sérum
Provides: /usr/bin/alpha-virtual
Requires: /usr/bin/alpha
Requires: /etc/alpha.conf
Requires: /opt/alpha/data
Requires: alpha-cap = 1:2.0-1
Requires: alpha-nover >= 1
Requires: bash >= 4.0
Requires: coreutils < 9
Requires(pre): shadow-utils
Requires(post): coreutils
Requires(preun): sed
Requires(postun): grep
Requires(pretrans): gawk
Requires(posttrans): findutils
Requires(pre): /bin/bash
Requires(interp): /bin/sh
Requires: zlib <= 2:1.2.11-5
Requires: glibc > 2.0
Requires: (foo if bar)
Requires: libc.so.6()(64bit)
Requires: libc.so.6(GLIBC_2.2.5)(64bit)
Requires: libc.so.6(GLIBC_2.14)(64bit)
Requires(pre): tilde >= 1.0~rc1^post
Conflicts: oldalpha < 1.0
Obsoletes: alpha-legacy <= 0.9
Recommends: beta
Suggests: gamma >= 2
Supplements: (delta and epsilon)
Enhances: epsilon = 5
%description
Line one & <two>
  indented line "three"
ünïcode ✓ tab\there %{lua: print("cr\\r here")}

%prep
%build
%install
mkdir -p %{buildroot}/usr/bin %{buildroot}/etc %{buildroot}/opt/alpha/bin %{buildroot}/usr/sbin %{buildroot}/var/log/alpha %{buildroot}/usr/lib
echo hi > %{buildroot}/usr/bin/alpha
echo hi > %{buildroot}/usr/sbin/alphad
echo hi > %{buildroot}/opt/alpha/bin/tool
echo c > %{buildroot}/etc/alpha.conf
echo d > %{buildroot}/opt/alpha/data
echo e > "%{buildroot}/opt/alpha/a&b <c>.txt"
echo s > %{buildroot}/usr/lib/sendmail
touch %{buildroot}/var/log/alpha/alpha.log
%files
/usr/bin/alpha
/usr/sbin/alphad
%config(noreplace) /etc/alpha.conf
%dir /opt/alpha
%dir /opt/alpha/bin
/opt/alpha/bin/tool
/opt/alpha/data
"/opt/alpha/a&b <c>.txt"
/usr/lib/sendmail
%dir /var/log/alpha
%ghost /var/log/alpha/alpha.log
%pre
true
%post
true
%changelog
* Wed Jan 10 2024 Jane Doe <jane@example.com>   - 1.2-4
- twelve & <x>
* Wed Jan 10 2024 Jérôme Ünï <jane@example.com> - 1.2-3
- eleven
* Wed Jan 10 2024 Jane Doe <jane@example.com> - 1.2-2
- ten
* Tue Jan 09 2024 Jane Doe <jane@example.com> - 1.2-1
- nine
  multi-line
* Mon Jan 08 2024 Jane Doe <jane@example.com> - 1.1-8
- eight
* Sun Jan 07 2024 Jane Doe <jane@example.com> - 1.1-7
- seven
* Sat Jan 06 2024 Jane Doe <jane@example.com> - 1.1-6
- six
* Fri Jan 05 2024 Jane Doe <jane@example.com> - 1.1-5
- five
* Thu Jan 04 2024 Jane Doe <jane@example.com> - 1.1-4
- four
* Wed Jan 03 2024 Jane Doe <jane@example.com> - 1.1-3
- three
* Tue Jan 02 2024 Jane Doe <jane@example.com> - 1.1-2
- two
* Mon Jan 01 2024 Jane Doe <jane@example.com> - 1.1-1
- one
`;

const TINY = `Name: tiny
Version: 0.1
Release: 1
Summary: tiny
License: MIT
BuildArch: noarch
%description
tiny
%files
`;

/** Build the ad hoc RPMs (binary + source) into `dir`; returns the .rpm paths. */
export function buildAdhocRpms(dir: string): string[] {
  const top = path.join(dir, 'top');
  mkdirSync(path.join(top, 'SPECS'), { recursive: true });
  const specs: string[] = [];
  for (const [n, body] of [['alpha', ALPHA], ['tiny', TINY]] as const) {
    const spec = path.join(top, 'SPECS', `${n}.spec`);
    writeFileSync(spec, body);
    specs.push(spec);
  }
  run('rpmbuild', ['--define', `_topdir ${top}`, '--define', '_build_id_links none', '--quiet', '-ba', ...specs]);
  const out: string[] = [];
  for (const sub of ['RPMS/x86_64', 'RPMS/noarch', 'SRPMS']) {
    const d = path.join(top, sub);
    for (const f of readdirSync(d)) if (f.endsWith('.rpm')) out.push(path.join(d, f));
  }
  return out.sort();
}
