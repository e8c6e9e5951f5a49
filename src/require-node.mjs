// Runs before `npm start`, `npm run dev` and `npm test`, in plain JavaScript that any Node can
// parse, so that an old Node stops here with a clear message instead of a syntax error later.
const [major, minor] = process.versions.node.split('.').map(Number);
const ok = major > 22 || (major === 22 && minor >= 18);
if (!ok) {
  console.error(
    `This project needs Node.js 22.18 or newer (Node 24 LTS recommended); this is ${process.version}.\n` +
      'Get it with nvm (`nvm install` reads .nvmrc), or without root:\n' +
      '  npm install -g --prefix "$HOME/.node24" node@24 && export PATH="$HOME/.node24/bin:$PATH"',
  );
  process.exit(1);
}
