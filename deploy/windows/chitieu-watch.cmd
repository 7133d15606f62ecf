@echo off
chcp 65001 >nul
rem chitieu watch: theo dõi thư mục dùng chung, xử lý ngay từng báo cáo đơn vị nộp.
rem Dùng cho Task Scheduler (chitieu-watch-task.xml) hoặc chạy tay. Sửa ba biến dưới đây.
rem Chạy trên CHÍNH MÁY chứa thư mục dùng chung: sổ cái SQLite phải ở ổ đĩa cục bộ.
set "CHITIEU_APP=C:\chitieu\app"
set "CHITIEU_SHARE=D:\chitieu"
set "CHITIEU_KEY_FILE=C:\ProgramData\chitieu\secret.key"
rem Thêm --polling nếu thư mục là đường dẫn UNC hoặc ổ mạng (sự kiện tệp không tới).
set "CHITIEU_WATCH_OPTIONS="
set PYTHONUTF8=1
set PYTHONUNBUFFERED=1
cd /d "%CHITIEU_APP%"
:chay
"%CHITIEU_APP%\.venv\Scripts\python.exe" -m processors.cli watch "%CHITIEU_SHARE%" %CHITIEU_WATCH_OPTIONS%
rem Mã 0: đã dừng theo yêu cầu (Ctrl+C). Mã khác: lỗi, chạy lại sau 10 giây.
if %ERRORLEVEL% EQU 0 exit /b 0
echo chitieu watch dừng với mã %ERRORLEVEL%; chạy lại sau 10 giây.
ping -n 11 127.0.0.1 >nul
goto chay
