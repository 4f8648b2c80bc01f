/** The grid worker's phone page (/report). */
const root = document.getElementById('report-app');
if (root) root.textContent = '网格员上报';
